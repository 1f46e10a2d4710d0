import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** Every opcode no other plugin claims (INIT, IOCTL, STATX, locks, …), so no request goes uncounted. */
const plugin: ProbePlugin = definePlugin({
  name: "other",
  description: "every opcode no other plugin claims (INIT, IOCTL, STATX, …)",
  claimsUnowned: true,
});
export default plugin;
