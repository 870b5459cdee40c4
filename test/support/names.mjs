// Room names no two tests share, in this run or a parallel one (Node or browser).
let made = 0;

/** A fresh room name starting with `prefix`. */
export const roomName = (prefix = 'room') => `${prefix}-${Date.now().toString(36)}-${++made}-${Math.random().toString(36).slice(2, 8)}`;
