import { PeerKitError } from '../errors.js';

/** Where a capture comes from: the camera and microphone, or the screen. */
export type CaptureSource = 'user' | 'display';

/** Options shared by the capture and device helpers. */
export interface MediaOptions {
  /**
   * The `MediaDevices` to use, e.g. another frame's; `null` stands for a browser that has none.
   * @default navigator.mediaDevices
   */
  mediaDevices?: MediaDevices | null;
}

/** What the user is asked for, in words: "camera", "microphone", "camera or microphone", "screen". */
function subject(source: CaptureSource, constraints?: MediaStreamConstraints): string {
  if (source === 'display') return 'screen';
  const audio = Boolean(constraints?.audio);
  const video = Boolean(constraints?.video);
  if (audio && !video) return 'microphone';
  if (video && !audio) return 'camera';
  return 'camera or microphone';
}

const nameOf = (err: unknown): string =>
  typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : '';

/** The required (`exact`, `min` or `max`) constraints of a request, by name. */
function requiredOf(constraints?: MediaStreamConstraints): string[] {
  const names = new Set<string>();
  for (const track of [constraints?.audio, constraints?.video]) {
    if (typeof track !== 'object' || track === null) continue;
    for (const [name, value] of Object.entries(track)) {
      if (typeof value === 'object' && value !== null && ('exact' in value || 'min' in value || 'max' in value)) names.add(name);
    }
  }
  return [...names];
}

/**
 * The constraint an OverconstrainedError names; where the browser names none, the one required
 * constraint of the request, if it had exactly one. The spec lets `constraint` be "" when the
 * browser cannot tell which one failed (https://github.com/w3c/mediacapture-main/pull/746), and
 * WebKit always leaves it empty for getUserMedia.
 */
function constraintOf(err: unknown, constraints?: MediaStreamConstraints): string {
  const constraint = typeof err === 'object' && err !== null ? (err as { constraint?: unknown }).constraint : undefined;
  if (typeof constraint === 'string' && constraint !== '') return constraint;
  const required = requiredOf(constraints);
  return required.length === 1 ? (required[0] ?? '') : '';
}

/**
 * Turns what `getUserMedia` or `getDisplayMedia` rejected with into a `PeerKitError` whose code
 * says what happened and whose message says what to do; the browser's error is its `cause`.
 * The capture helpers use it; call it yourself on errors from the browser's own functions.
 *
 * | browser error | code |
 * | --- | --- |
 * | `NotAllowedError`, `SecurityError`, `PermissionDeniedError` | `PERMISSION_DENIED` |
 * | `InvalidStateError` (screen sharing without a click) | `PERMISSION_DENIED` |
 * | `NotFoundError`, `DevicesNotFoundError`, `OverconstrainedError` on `deviceId` | `DEVICE_NOT_FOUND` |
 * | `NotReadableError`, `TrackStartError`, `AbortError` | `DEVICE_IN_USE` |
 * | `OverconstrainedError`, `ConstraintNotSatisfiedError` | `CONSTRAINT_NOT_SATISFIED` |
 * | `TypeError` (nothing requested) | `BAD_ARGUMENT` |
 * | `NotSupportedError` and anything else | `UNSUPPORTED` |
 *
 * @param constraints - what was asked for, to name the device in the message
 * @example
 * ```ts
 * try {
 *   stream = await navigator.mediaDevices.getUserMedia({ video: true });
 * } catch (err) {
 *   const error = mediaError(err, 'user', { video: true });
 *   if (error.code === 'PERMISSION_DENIED') showHelp(error.message);
 * }
 * ```
 */
export function mediaError(err: unknown, source: CaptureSource = 'user', constraints?: MediaStreamConstraints): PeerKitError {
  if (err instanceof PeerKitError) return err;
  const what = subject(source, constraints);
  const detail = err instanceof Error && err.message ? ` (${err.message})` : '';
  const make = (code: PeerKitError['code'], message: string): PeerKitError => new PeerKitError(code, message + detail, { cause: err });
  const name = nameOf(err);
  // The second name of each pair is Chrome's from before it adopted the spec's names
  // (https://crbug.com/721412); embedded Chromium builds may still use them.
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return source === 'display'
        ? make('PERMISSION_DENIED', 'Screen sharing was cancelled or is not allowed. Choose a screen, window or tab to share, or check the system\'s screen recording permission.')
        : make('PERMISSION_DENIED', `Access to the ${what} was denied. Allow it in the site settings (the icon next to the address bar), then try again.`);
    case 'SecurityError':
      return make('PERMISSION_DENIED', `This page is not allowed to use the ${what}: a permissions policy blocks it (in an iframe, add allow="camera; microphone; display-capture").`);
    case 'InvalidStateError':
      return make('PERMISSION_DENIED', `The ${what} can only be requested from a click or key press, while the page is visible.`);
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      return make('DEVICE_NOT_FOUND', `No ${what} was found. Connect one, or check that it is enabled in the system settings.`);
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return make('DEVICE_IN_USE', `The ${what} could not be started; another application or tab may be using it. Close it and try again.`);
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError': {
      const constraint = constraintOf(err, constraints);
      // An exact deviceId that matches nothing means the chosen device is gone (unplugged).
      if (constraint === 'deviceId') {
        return make('DEVICE_NOT_FOUND', `The selected ${what} is no longer available. Pick another one.`);
      }
      return make(
        'CONSTRAINT_NOT_SATISFIED',
        `No ${what} can satisfy the requested ${constraint ? `"${constraint}"` : 'settings'}. Ask for less (an ideal value instead of an exact one).`,
      );
    }
    case 'TypeError':
      return make('BAD_ARGUMENT', `Nothing to capture: ask for audio, video, or both.`);
    case 'NotSupportedError':
      return make('UNSUPPORTED', `This browser cannot capture the ${what} with these settings.`);
    default:
      return make('UNSUPPORTED', `The browser could not capture the ${what}${name ? `: ${name}` : ''}.`);
  }
}

/** The browser's MediaDevices, or the error that explains why there is none. */
export function mediaDevicesOf(options: MediaOptions, source: CaptureSource = 'user'): MediaDevices | PeerKitError {
  const devices = options.mediaDevices === undefined ? globalThis.navigator?.mediaDevices : options.mediaDevices;
  if (devices) return devices;
  // Browsers hide navigator.mediaDevices entirely on pages that are not https or localhost.
  if (globalThis.isSecureContext === false) {
    return new PeerKitError(
      'INSECURE_CONTEXT',
      `The ${source === 'display' ? 'screen' : 'camera and microphone'} can only be used on a secure page: open it over https://, or on http://localhost.`,
    );
  }
  return new PeerKitError('UNSUPPORTED', 'This browser cannot capture media: it has no navigator.mediaDevices.');
}

/**
 * Asks for the camera and/or microphone, like `navigator.mediaDevices.getUserMedia`, but rejects
 * with a `PeerKitError` that says what went wrong (see {@link mediaError}).
 *
 * @param constraints - what to capture @default { audio: true, video: true }
 * @returns the captured stream; its tracks are yours to stop
 * @example
 * ```ts
 * try {
 *   const stream = await getUserMedia({ audio: true, video: { width: 1280 } });
 *   attach(preview, stream, { local: true });
 * } catch (err) {
 *   status.textContent = err.message; // "Access to the camera or microphone was denied. Allow it..."
 * }
 * ```
 */
export async function getUserMedia(
  constraints: MediaStreamConstraints = { audio: true, video: true },
  options: MediaOptions = {},
): Promise<MediaStream> {
  const devices = mediaDevicesOf(options);
  if (devices instanceof PeerKitError) throw devices;
  try {
    return await devices.getUserMedia(constraints);
  } catch (err) {
    throw mediaError(err, 'user', constraints);
  }
}

/**
 * Asks the user to pick a screen, window or tab to share, like
 * `navigator.mediaDevices.getDisplayMedia`, but rejects with a `PeerKitError` (see
 * {@link mediaError}). Most browsers allow it only from a click or key press, and mobile
 * browsers mostly not at all (`UNSUPPORTED`). The video track ends when the user stops sharing
 * from the browser's own controls: listen for its `ended` event.
 *
 * @param options - what to capture @default { video: true }
 * @example
 * ```ts
 * shareButton.onclick = async () => {
 *   const screen = await getDisplayMedia();
 *   const [track] = screen.getVideoTracks();
 *   await room.replaceTrack(cameraTrack, track);
 *   track.addEventListener('ended', () => room.replaceTrack(track, cameraTrack));
 * };
 * ```
 */
export async function getDisplayMedia(
  options: DisplayMediaStreamOptions = { video: true },
  media: MediaOptions = {},
): Promise<MediaStream> {
  const devices = mediaDevicesOf(media, 'display');
  if (devices instanceof PeerKitError) throw devices;
  if (typeof devices.getDisplayMedia !== 'function') {
    throw new PeerKitError('UNSUPPORTED', 'This browser cannot share the screen (most mobile browsers cannot).');
  }
  try {
    return await devices.getDisplayMedia(options);
  } catch (err) {
    throw mediaError(err, 'display');
  }
}
