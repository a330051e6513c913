// The Redis Cluster key slot of a key, computed here (not asked of a server) so unit tests can check
// the layout without a cluster: CRC16/XMODEM (poly 0x1021, init 0) of the key's hash tag, or of the
// whole key when it has none, mod 16384 (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).

export const slotCount = 16384;

export function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** What Redis hashes: the text between the first `{` and the next `}` if that is not empty, else the key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), "utf8")) % slotCount;
}
