// Small DOM helpers shared by the demo's modules. Text always goes in as text, never as HTML:
// names, chat and file names come from other people.

/** Creates an element with attributes (`on*` functions become listeners) and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}

/** "5.0 MiB", "12 KiB", "300 B". */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "1.2 Mb/s", "640 kb/s". */
export function bitrate(bitsPerSecond) {
  if (bitsPerSecond === null || bitsPerSecond === undefined) return '–';
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(1)} Mb/s`;
  return `${Math.round(bitsPerSecond / 1e3)} kb/s`;
}

/** The two-letter initials shown when there is no picture. */
export const initials = (name) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join('') || '?';

const alerts = () => document.getElementById('alerts');

/**
 * Shows a message on the page (not only in the console). `actions` are buttons: [label, fn].
 * Returns a function that removes it. Messages with the same `key` replace each other.
 */
export function showAlert({ title, message, kind = 'error', actions = [], key }) {
  if (key) alerts().querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const box = el(
    'div',
    { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: key ? { key } : {} },
    el('p', {}, el('strong', {}, title), message),
  );
  const remove = () => box.remove();
  for (const [label, run] of actions) box.append(el('button', { type: 'button', onclick: () => (remove(), run()) }, label));
  box.append(el('button', { type: 'button', 'aria-label': `Dismiss: ${title}`, onclick: remove }, '✕'));
  alerts().append(box);
  return remove;
}

/** Removes the alert shown with `key`, if any. */
export const clearAlert = (key) => alerts().querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
