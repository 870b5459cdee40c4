import { PeerKitError } from '../errors.js';
import { getUserMedia, mediaDevicesOf } from './capture.js';
import type { MediaOptions } from './capture.js';

/**
 * The devices the browser reports, by kind, in the browser's order (the default first). Until the
 * page has been allowed to use a device of a kind, browsers list at most one of that kind, with
 * an empty `label` and `deviceId`: enough to know one exists, not to pick it.
 */
export interface DeviceList {
  /** Microphones. */
  audioinput: MediaDeviceInfo[];
  /** Cameras. */
  videoinput: MediaDeviceInfo[];
  /** Speakers and headphones (empty where the browser cannot choose an output). */
  audiooutput: MediaDeviceInfo[];
}

/**
 * Lists cameras, microphones and speakers, grouped by kind.
 *
 * @returns rejects with `INSECURE_CONTEXT` or `UNSUPPORTED` when the browser cannot enumerate
 * @example
 * ```ts
 * const { videoinput } = await listDevices();
 * cameraPicker.replaceChildren(...videoinput.map((d) => new Option(d.label || 'Camera', d.deviceId)));
 * ```
 */
export async function listDevices(options: MediaOptions = {}): Promise<DeviceList> {
  const devices = mediaDevicesOf(options);
  if (devices instanceof PeerKitError) throw devices;
  const list: DeviceList = { audioinput: [], videoinput: [], audiooutput: [] };
  let found: MediaDeviceInfo[];
  try {
    found = await devices.enumerateDevices();
  } catch (err) {
    throw new PeerKitError('UNSUPPORTED', 'The browser could not list the media devices.', { cause: err });
  }
  for (const device of found) list[device.kind].push(device);
  return list;
}

/** Options of {@link onDeviceChange}. */
export interface DeviceChangeOptions extends MediaOptions {
  /** Called when listing the devices after a change fails. @default undefined (the change is skipped) */
  onError?: (error: PeerKitError) => void;
}

/**
 * Calls `listener` with the new device list whenever a device is plugged in, removed, or
 * allowed.
 *
 * @returns a function that stops listening
 * @throws PeerKitError `INSECURE_CONTEXT` or `UNSUPPORTED` when the browser has no media devices
 * @example
 * ```ts
 * const stop = onDeviceChange(({ videoinput }) => renderCameraPicker(videoinput));
 * // later
 * stop();
 * ```
 */
export function onDeviceChange(listener: (devices: DeviceList) => void, options: DeviceChangeOptions = {}): () => void {
  const devices = mediaDevicesOf(options);
  if (devices instanceof PeerKitError) throw devices;
  let latest = 0;
  let stopped = false;
  const changed = (): void => {
    // Plugging in a headset fires several events at once; only the last listing is delivered,
    // so a slow earlier one can never overwrite a newer one.
    const turn = ++latest;
    listDevices(options).then(
      (list) => {
        if (!stopped && turn === latest) listener(list);
      },
      (err: PeerKitError) => {
        if (!stopped) options.onError?.(err);
      },
    );
  };
  devices.addEventListener('devicechange', changed);
  return () => {
    stopped = true;
    devices.removeEventListener('devicechange', changed);
  };
}

/**
 * Anything that can swap a sent track for another without renegotiating: a `Peer`, a `Room`, or
 * your own wrapper around `RTCRtpSender.replaceTrack`.
 */
export interface TrackReplacer {
  /** Sends `newTrack` wherever `oldTrack` was sent, without renegotiating. */
  replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void>;
}

/** Options of {@link switchDevice}. */
export interface SwitchDeviceOptions extends MediaOptions {
  /**
   * The local stream that holds `track` (the one shown in the preview and given to
   * `room.addStream`): the new track takes the old one's place in it. @default undefined
   */
  stream?: MediaStream;
  /** Constraints for the new track, instead of those the old track was captured with. @default track.getConstraints() */
  constraints?: MediaTrackConstraints;
}

/**
 * Switches a camera or microphone mid-call: captures `deviceId`, swaps the new track in with
 * `target.replaceTrack` (no renegotiation, the remote side keeps the same track), carries over
 * the muted state, and stops the old track.
 *
 * Phones often cannot open two cameras at once; when the new camera is busy, the old track is
 * stopped first and the capture tried once more. If that fails too, the old track stays stopped.
 *
 * @param target - a Peer, a Room, or anything with `replaceTrack(old, new)`
 * @param track - the track being sent now
 * @param deviceId - the device to switch to, from {@link listDevices}
 * @returns the new track; on failure the old track is still sent (unless stopped as above)
 * @example
 * ```ts
 * picker.onchange = async () => {
 *   cameraTrack = await switchDevice(room, cameraTrack, picker.value, { stream: localStream });
 * };
 * ```
 */
export async function switchDevice(
  target: TrackReplacer,
  track: MediaStreamTrack,
  deviceId: string,
  options: SwitchDeviceOptions = {},
): Promise<MediaStreamTrack> {
  if (track.kind !== 'audio' && track.kind !== 'video') {
    throw new PeerKitError('BAD_ARGUMENT', `switchDevice() needs an audio or video track, not "${track.kind}".`);
  }
  // The old device's ids would contradict the new one; size, frame rate and the rest carry over.
  const { deviceId: _device, groupId: _group, ...kept } = options.constraints ?? track.getConstraints();
  const constraints: MediaStreamConstraints = { [track.kind]: { ...kept, deviceId: { exact: deviceId } } };
  const capture = async (): Promise<MediaStreamTrack> => {
    const stream = await getUserMedia(constraints, options);
    const [next] = track.kind === 'video' ? stream.getVideoTracks() : stream.getAudioTracks();
    if (!next) throw new PeerKitError('DEVICE_NOT_FOUND', `The selected ${track.kind === 'video' ? 'camera' : 'microphone'} gave no track.`);
    return next;
  };
  let next: MediaStreamTrack;
  try {
    next = await capture();
  } catch (err) {
    const busy = err instanceof PeerKitError && err.code === 'DEVICE_IN_USE';
    if (!busy || track.kind !== 'video' || track.readyState === 'ended') throw err;
    track.stop();
    next = await capture();
  }
  next.enabled = track.enabled;
  try {
    await target.replaceTrack(track, next);
  } catch (err) {
    next.stop();
    throw err;
  }
  if (options.stream?.getTracks().includes(track)) {
    options.stream.removeTrack(track);
    options.stream.addTrack(next);
  }
  track.stop();
  return next;
}
