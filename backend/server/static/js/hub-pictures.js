// The model view's choice among the pictures the hub showed of a model. Their thumbnails come from the gateway,
// which fetched each once (the page loads nothing from the internet); each is blurred above the person's level
// as previews are, and the one chosen becomes their own preview, as a picture they uploaded would.
import { getJson, putJson } from './api.js';
import { rated } from './blur.js';
import { h, preview } from './dom.js';

function picturePlace(picture, n, count, name, choose) {
  const thumbnail = preview(picture.thumbnail, 'Not available');
  if (thumbnail.tagName === 'IMG') thumbnail.alt = `The hub’s picture ${n} of ${count} of ${name}`;
  // The visible words begin the name, so that a person who says "Use this picture" reaches the button.
  const use = h('button', { type: 'button', 'aria-label': `Use this picture (${n} of ${count}) as the preview` },
    'Use this picture');
  use.addEventListener('click', () => choose(picture, n, use));
  return h('li', {}, rated(h('div', { class: 'hub-picture' }, thumbnail), picture.nsfw_level), use);
}

export function hubPictures(sha256, name, onChosen) {
  const path = `/api/models/${encodeURIComponent(sha256)}`;
  const list = h('ul', { class: 'hub-pictures' });
  const status = h('p', { class: 'status', role: 'status' });
  const section = h('section', { class: 'hub-choice', 'aria-labelledby': 'hub-pictures-title', hidden: true },
    h('h3', { id: 'hub-pictures-title' }, 'Choose one of the hub’s pictures'), list, status);
  const choose = async (picture, n, button) => {
    status.textContent = 'Saving…';
    button.disabled = true;
    try {
      await putJson(`${path}/preview`, { hub_picture: picture.index });
      await onChosen();
      status.textContent = `The hub’s picture ${n} is now your preview.`;
    } catch (err) {
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  };
  // Asked after the view is shown: a model the hub never showed pictures of keeps no empty section.
  getJson(`${path}/hub-pictures`).then(({ pictures }) => {
    if (!pictures.length) return;
    list.replaceChildren(...pictures.map((picture, i) => picturePlace(picture, i + 1, pictures.length, name, choose)));
    section.hidden = false;
  }, (err) => {
    status.textContent = `The hub’s pictures could not be listed: ${err.message}`;
    section.hidden = false;
  });
  return section;
}
