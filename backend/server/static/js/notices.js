// Messages for the person: errors stay until dismissed, news fades after a while.
import { h } from './dom.js';

const NEWS_MS = 8000;
const KEEP = 4;

function add(region, kind, children) {
  const notice = h('div', { class: `notice ${kind}` },
    h('p', {}, children),
    h('button', { type: 'button', class: 'quiet', onclick: () => notice.remove() }, 'Dismiss'));
  region.append(notice);
  while (region.children.length > KEEP) region.firstElementChild.remove();
  return notice;
}

// The notice is returned, so a view can take its own error back once it works again.
export function showError(text) {
  return add(document.getElementById('alerts'), 'error', text);
}

export function showNews(...children) {
  const notice = add(document.getElementById('news'), 'news', children);
  setTimeout(() => notice.remove(), NEWS_MS);
}

// Run an action; a failure becomes a notice in words, never a raw answer.
export async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    if (err.name !== 'AbortError') showError(err.message);
    return undefined;
  }
}
