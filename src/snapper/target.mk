# classic build: make -C build/x86_64 snapper (see src/genode/rust_component.mk)
TARGET = snapper
CRATE  = snapper

include $(REP_DIR)/src/genode/rust_component.mk
