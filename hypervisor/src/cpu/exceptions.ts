// Exception cause codes (privileged spec 1.12, table 3.6).
export const enum Cause {
  InstructionMisaligned = 0,
  InstructionAccessFault = 1,
  IllegalInstruction = 2,
  Breakpoint = 3,
  LoadMisaligned = 4,
  LoadAccessFault = 5,
  StoreMisaligned = 6,
  StoreAccessFault = 7,
  EcallFromU = 8,
  EcallFromS = 9,
  EcallFromM = 11,
  InstructionPageFault = 12,
  LoadPageFault = 13,
  StorePageFault = 15,
}

export const enum Priv {
  User = 0,
  Supervisor = 1,
  Machine = 3,
}

/** How a memory access uses its page: the MMU checks R, W or X and picks the fault cause. */
export const enum Access {
  Read = 0,
  Write = 1,
  Execute = 2,
}

export const PAGE_FAULT: Record<Access, Cause> = [
  Cause.LoadPageFault,
  Cause.StorePageFault,
  Cause.InstructionPageFault,
];
export const ACCESS_FAULT: Record<Access, Cause> = [
  Cause.LoadAccessFault,
  Cause.StoreAccessFault,
  Cause.InstructionAccessFault,
];
