// A virtio-input keyboard: every key QEMU's QKeyCode names (what QMP's send-key takes), as
// Linux evdev key codes (linux/input-event-codes.h), plus LEDs and autorepeat as a PC
// keyboard has them. Linux's VT keyboard handler turns Ctrl+Alt+Delete on it into
// ctrl_alt_del(), which signals init: the path system_powerdown takes.
import { BUS_VIRTUAL, EV, SYN_REPORT, type InputDeviceConfig, type InputEvent } from './input.js';

/** The keys system_powerdown presses. */
export const KEY_LEFTCTRL = 29;
export const KEY_LEFTALT = 56;
export const KEY_DELETE = 111;

/** QKeyCode name → evdev key code. */
export const QCODE_KEYS: Readonly<Record<string, number>> = {
  esc: 1,
  ...Object.fromEntries([...'1234567890'].map((k, i) => [k, 2 + i])),
  minus: 12,
  equal: 13,
  backspace: 14,
  tab: 15,
  ...Object.fromEntries([...'qwertyuiop'].map((k, i) => [k, 16 + i])),
  bracket_left: 26,
  bracket_right: 27,
  ret: 28,
  ctrl: KEY_LEFTCTRL,
  ...Object.fromEntries([...'asdfghjkl'].map((k, i) => [k, 30 + i])),
  semicolon: 39,
  apostrophe: 40,
  grave_accent: 41,
  shift: 42,
  backslash: 43,
  ...Object.fromEntries([...'zxcvbnm'].map((k, i) => [k, 44 + i])),
  comma: 51,
  dot: 52,
  slash: 53,
  shift_r: 54,
  kp_multiply: 55,
  asterisk: 55,
  alt: KEY_LEFTALT,
  spc: 57,
  caps_lock: 58,
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i + 1}`, 59 + i])),
  num_lock: 69,
  scroll_lock: 70,
  kp_7: 71,
  kp_8: 72,
  kp_9: 73,
  kp_subtract: 74,
  kp_4: 75,
  kp_5: 76,
  kp_6: 77,
  kp_add: 78,
  kp_1: 79,
  kp_2: 80,
  kp_3: 81,
  kp_0: 82,
  kp_decimal: 83,
  less: 86,
  f11: 87,
  f12: 88,
  ro: 89,
  hiragana: 91,
  henkan: 92,
  katakanahiragana: 93,
  muhenkan: 94,
  kp_enter: 96,
  ctrl_r: 97,
  kp_divide: 98,
  sysrq: 99,
  alt_r: 100,
  lf: 101,
  home: 102,
  up: 103,
  pgup: 104,
  left: 105,
  right: 106,
  end: 107,
  down: 108,
  pgdn: 109,
  insert: 110,
  delete: KEY_DELETE,
  audiomute: 113,
  volumedown: 114,
  volumeup: 115,
  power: 116,
  kp_equals: 117,
  pause: 119,
  kp_comma: 121,
  lang1: 122,
  lang2: 123,
  yen: 124,
  meta_l: 125,
  meta_r: 126,
  compose: 127,
  stop: 128,
  again: 129,
  props: 130,
  undo: 131,
  front: 132,
  copy: 133,
  open: 134,
  paste: 135,
  find: 136,
  cut: 137,
  help: 138,
  menu: 139,
  calculator: 140,
  sleep: 142,
  wake: 143,
  mail: 155,
  ac_bookmarks: 156,
  computer: 157,
  ac_back: 158,
  ac_forward: 159,
  audionext: 163,
  audioplay: 164,
  audioprev: 165,
  audiostop: 166,
  ac_home: 172,
  ac_refresh: 173,
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i + 13}`, 183 + i])),
  print: 210,
  mediaselect: 226,
};

const LEDS = [0, 1, 2]; // LED_NUML, LED_CAPSL, LED_SCROLLL
const REP = [0, 1]; // REP_DELAY, REP_PERIOD

/** The keyboard's description; the IDs are QEMU's virtio keyboard's, so guests see the same device. */
export function keyboardConfig(): InputDeviceConfig {
  return {
    name: 'Hypernova Virtio Keyboard',
    ids: { bustype: BUS_VIRTUAL, vendor: 0x0627, product: 0x0001, version: 0x0001 },
    events: new Map([
      [EV.SYN, [SYN_REPORT]],
      [EV.KEY, [...new Set(Object.values(QCODE_KEYS))]],
      [EV.LED, LEDS],
      [EV.REP, REP],
    ]),
  };
}

const syn: InputEvent = { type: EV.SYN, code: SYN_REPORT, value: 0 };

/** A chord: the keys go down in order, then up in reverse order, each half ending in a report. */
export function keyPress(codes: readonly number[]): InputEvent[] {
  return [
    ...codes.map((code) => ({ type: EV.KEY, code, value: 1 })),
    syn,
    ...[...codes].reverse().map((code) => ({ type: EV.KEY, code, value: 0 })),
    syn,
  ];
}
