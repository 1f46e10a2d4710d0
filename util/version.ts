/** The fusetrace version, written into CSV files. */
export const VERSION = "0.1.0";
