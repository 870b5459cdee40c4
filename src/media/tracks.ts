/**
 * Mutes a local track: a muted microphone sends silence and a muted camera sends black frames,
 * with no renegotiation and the device kept open, so unmuting is instant. The remote side cannot
 * tell a muted track from a silent room; tell it yourself (e.g. with `room.send`) to show an icon.
 *
 * This is `track.enabled = false`, not the browser's read-only `track.muted`, which reports that
 * the source itself delivers nothing.
 *
 * @example
 * ```ts
 * muteButton.onclick = () => (isMuted(mic) ? unmute(mic) : mute(mic));
 * ```
 */
export function mute(track: MediaStreamTrack): void {
  track.enabled = false;
}

/** Undoes {@link mute}. */
export function unmute(track: MediaStreamTrack): void {
  track.enabled = true;
}

/** Whether {@link mute} is in effect on `track`. */
export function isMuted(track: MediaStreamTrack): boolean {
  return !track.enabled;
}
