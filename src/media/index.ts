export { getDisplayMedia, getUserMedia, mediaError } from './capture.js';
export type { CaptureSource, MediaOptions } from './capture.js';
export { listDevices, onDeviceChange, switchDevice } from './devices.js';
export type { DeviceChangeOptions, DeviceList, SwitchDeviceOptions, TrackReplacer } from './devices.js';
export { isMuted, mute, unmute } from './tracks.js';
export { attach } from './attach.js';
export type { AttachOptions, Attachment, PlayOutcome } from './attach.js';
