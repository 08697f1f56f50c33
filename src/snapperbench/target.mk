# classic build: make -C build/x86_64 snapperbench
# (see src/genode/rust_component.mk; the benchmark's knobs are config
# attributes read at run time, nothing is compiled in)
TARGET = snapperbench
CRATE  = snapperbench

include $(REP_DIR)/src/genode/rust_component.mk
