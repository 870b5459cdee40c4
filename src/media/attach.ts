import { PeerKitError } from '../errors.js';

/**
 * How playback started:
 * - `playing`: playing (with sound, unless it is a local preview, which is always silent);
 * - `muted`: the browser's autoplay policy refused sound, so it plays muted; call `resume()` from
 *   a click or key press to bring the sound back;
 * - `blocked`: the browser refused to play at all (or something paused it); call `resume()` from
 *   a click or key press;
 * - `detached`: `detach()` was called, or the element was given another source, before playback
 *   started.
 */
export type PlayOutcome = 'playing' | 'muted' | 'blocked' | 'detached';

/** Options of {@link attach}. */
export interface AttachOptions {
  /**
   * The stream is this device's own camera and microphone: the element stays muted, so the user
   * does not hear themselves (and muted playback is what every autoplay policy allows).
   * @default false
   */
  local?: boolean;
}

/** A stream shown in a media element, from {@link attach}. */
export interface Attachment {
  /** Settles once playback started or could not start; never rejects for autoplay refusals. */
  readonly playing: Promise<PlayOutcome>;
  /** Tries again, with sound for a remote stream; call it from a click or key press. */
  resume(): Promise<PlayOutcome>;
  /** Stops showing the stream in the element; the stream's tracks keep running. Idempotent. */
  detach(): void;
}

const nameOf = (err: unknown): string => (err instanceof Error || err instanceof DOMException ? err.name : '');

/**
 * Shows a stream in a `<video>` (or plays it in an `<audio>`) element: sets `srcObject`,
 * `autoplay` and `playsInline` (so iOS does not go full screen), mutes a local preview, and
 * starts playback. When the autoplay policy refuses sound for a remote stream, the element plays
 * muted instead and `playing` says `muted`: show a button that calls `resume()`.
 *
 * @example
 * ```ts
 * attach(selfView, localStream, { local: true });
 * room.on('stream', async (stream, id) => {
 *   const view = attach(videoFor(id), stream);
 *   if ((await view.playing) !== 'playing') showButton('Click for sound', () => view.resume());
 * });
 * ```
 */
export function attach(element: HTMLMediaElement, stream: MediaStream, options: AttachOptions = {}): Attachment {
  const local = options.local ?? false;
  let detached = false;
  const gone = (): boolean => detached || element.srcObject !== stream;

  const play = async (): Promise<PlayOutcome> => {
    try {
      await element.play();
      return gone() ? 'detached' : element.muted && !local ? 'muted' : 'playing';
    } catch (err) {
      if (gone()) return 'detached';
      const name = nameOf(err);
      // AbortError: a pause() or a new load interrupted this play(); resume() starts it again.
      if (name === 'AbortError') return 'blocked';
      if (name !== 'NotAllowedError') throw new PeerKitError('UNSUPPORTED', 'The browser cannot play this stream.', { cause: err });
      if (element.muted) return 'blocked';
      // Autoplay policies that refuse sound allow muted playback: show the picture now and let a
      // click bring the sound (https://developer.chrome.com/blog/autoplay).
      element.muted = true;
      return play();
    }
  };
  const start = (): Promise<PlayOutcome> => {
    const outcome = play();
    // Callers that never look at the outcome must not see an unhandled rejection.
    outcome.catch(() => undefined);
    return outcome;
  };

  element.autoplay = true;
  // The attribute rather than the property: Firefox has no property (not a bug, a missing feature:
  // https://html.spec.whatwg.org/#dom-video-playsinline), and iOS reads the attribute to play
  // inline instead of fullscreen (https://webkit.org/blog/6784/new-video-policies-for-ios/).
  element.setAttribute('playsinline', '');
  element.muted = local;
  element.srcObject = stream;
  const playing = start();

  return {
    playing,
    resume: () => {
      if (gone()) return Promise.resolve('detached');
      element.muted = local;
      return start();
    },
    detach: () => {
      if (detached) return;
      detached = true;
      if (element.srcObject !== stream) return;
      element.pause();
      element.srcObject = null;
    },
  };
}
