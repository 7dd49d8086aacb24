/**
 * A whole number as people write one on a command line: decimal digits only. Number() would also
 * take `0x50`, `1e3`, `0b1`, `+80`, `80.0` and an empty string (0), so a typo would pass for a
 * different setting.
 */
export function decimal(text: string): number | undefined {
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined
}
