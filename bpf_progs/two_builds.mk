# Shared by the Makefiles of bpf_progs/iproute2/ and bpf_progs/old/: each X.c of the including
# directory is built twice into bpf_progs/build/$(BUILD_NAME)/:
#   X.o      with -g  (.BTF / .BTF.ext present)
#   X-nog.o  without -g (no BTF at all), as objects of those eras often were.
# The including Makefile sets BUILD_NAME, then includes this file.

CLANG ?= clang-16
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
ifeq ($(MULTIARCH),)
MULTIARCH := x86_64-linux-gnu
endif
CFLAGS ?= -O2 -Wall
# Debug flags are added per variant below; drop any coming in via CFLAGS
# so the -nog objects really carry no BTF.
BPF_CFLAGS := -target bpf -I/usr/include/$(MULTIARCH) $(filter-out -g%,$(CFLAGS))

SRC_DIR := $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST))))
BUILD_DIR := $(SRC_DIR)/../build/$(BUILD_NAME)
SRCS := $(wildcard $(SRC_DIR)/*.c)
NAMES := $(patsubst $(SRC_DIR)/%.c,%,$(SRCS))
OBJS := $(NAMES:%=$(BUILD_DIR)/%.o) $(NAMES:%=$(BUILD_DIR)/%-nog.o)
DEPS := $(OBJS:.o=.d)

.PHONY: all clean

all: $(OBJS)

$(BUILD_DIR):
	mkdir -p $@

# -MMD -MP: edits to a header rebuild the objects that include it.
$(BUILD_DIR)/%-nog.o: $(SRC_DIR)/%.c | $(BUILD_DIR)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD_DIR)/%.o: $(SRC_DIR)/%.c | $(BUILD_DIR)
	$(CLANG) $(BPF_CFLAGS) -g -MMD -MP -c $< -o $@

clean:
	rm -f $(OBJS) $(DEPS)

-include $(DEPS)
