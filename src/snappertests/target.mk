# classic build: make -C build/x86_64 snappertests [TESTS=n]
# (see src/genode/rust_component.mk)
TARGET = snappertests
CRATE  = snappertests

include $(REP_DIR)/src/genode/rust_component.mk
