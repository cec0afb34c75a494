// Interrupt bits of mip/mie (privileged spec 1.12, section 3.1.9).
export const Mip = {
  SSIP: 1 << 1,
  MSIP: 1 << 3,
  STIP: 1 << 5,
  MTIP: 1 << 7,
  SEIP: 1 << 9,
  MEIP: 1 << 11,
} as const;
