import { definePlugin } from "../probes/plugin.ts";

/** Every opcode no other plugin claims (INIT, IOCTL, STATX, locks, …), so no request goes uncounted. */
export default definePlugin({
  name: "other",
  description: "every opcode no other plugin claims (INIT, IOCTL, STATX, …)",
  claimsUnowned: true,
});
