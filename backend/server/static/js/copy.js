// Copy buttons: the clipboard API where the browser allows it, the old way where it does not (plain http).
import { h } from './dom.js';
import { showNews } from './notices.js';

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch { /* not a secure context, or no permission: fall back */ }
  const area = h('textarea', { readonly: true, class: 'offscreen', 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function copyButton(text, label, what, shown = 'Copy') {
  return h('button', {
    type: 'button', class: 'copy', 'aria-label': label, title: label,
    onclick: async () => { await copyText(text); showNews(`Copied ${what}.`); },
  }, shown);
}
