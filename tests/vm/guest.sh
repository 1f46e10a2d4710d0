#!/bin/sh
# Runs inside a guest as /payload/run.sh (see vm.ts): the kernel-matrix tests on this guest's
# kernel and bpftrace. Output: /payload/out/{test.log,status}; progress on the serial console.
cd /payload/repo || exit 1
export PATH=/payload/bin:$PATH DENO_DIR=/payload/deno-dir NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
export FUSETRACE_GUEST="$(cat /payload/guest)"
# The stand-in daemon built on the host against a libfuse with io_uring (tests/vm/uring.ts).
[ -d /payload/uring ] && export FUSETRACE_STUB_DIR=/payload/uring
for m in $(cat /payload/modules); do modprobe "$m" 2>/dev/null; done
echo "fusetrace-guest: $FUSETRACE_GUEST $(uname -r) $(bpftrace --version)"
FILTER="$(cat /payload/filter 2>/dev/null)"
deno test -A --no-check --cached-only ${FILTER:+--filter "$FILTER"} tests/vm/guest_test.ts 2>&1 |
  tee /payload/out/test.log
echo "fusetrace-guest: done"
