import { definePlugin } from "../probes/plugin.ts";

/** FORGET, BATCH_FORGET (no reply: counted, not timed) */
export default definePlugin({
  name: "forget",
  description: "FORGET, BATCH_FORGET (no reply: counted, not timed)",
  opcodes: [2, 42],
  daemonSymbols: ["cvmfs_forget"],
});
