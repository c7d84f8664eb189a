// "Yours" in the model view: the person's own favourite flag, tags and notes of a content, kept with the source
// "you" (above every tool and the hub). Saved only when the person says so; errors in words, the form kept.
import { putJson } from './api.js';
import { h } from './dom.js';
import { attempt, showNews } from './notices.js';

function yours(metadata, field) {
  const entry = metadata[field];
  return entry && entry.source === 'you' ? entry.value : undefined;
}

// "anime, ink , Anime" -> ["anime", "ink", "Anime"]; the gateway trims them and keeps one per spelling but case.
function tagsFrom(text) {
  return text.split(',').map((tag) => tag.trim()).filter(Boolean);
}

export function personalSection(sha256, metadata, name) {
  const url = `/api/models/${encodeURIComponent(sha256)}/notes`;
  let favourite = yours(metadata, 'favourite') === true;
  const star = h('button', { type: 'button', class: 'favourite', 'aria-pressed': String(favourite) },
    favourite ? '★ Favourite' : '☆ Favourite');
  star.addEventListener('click', () => attempt(async () => {
    const saved = await putJson(url, { favourite: !favourite });
    favourite = saved.yours.favourite === true;
    star.setAttribute('aria-pressed', String(favourite));
    star.textContent = favourite ? '★ Favourite' : '☆ Favourite';
    showNews(favourite ? `${name} is a favourite.` : `${name} is no longer a favourite.`);
  }));

  const tags = h('input', { id: 'your-tags', type: 'text', autocomplete: 'off',
    value: (yours(metadata, 'tags') || []).join(', ') });
  const notes = h('textarea', { id: 'your-notes', rows: '4' });
  notes.value = yours(metadata, 'notes') || '';
  const form = h('form', { class: 'yours' },
    h('label', { for: 'your-tags' }, 'Tags (separated by commas)'), tags,
    h('label', { for: 'your-notes' }, 'Notes'), notes,
    h('button', { type: 'submit' }, 'Save'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const saved = await putJson(url, { tags: tagsFrom(tags.value), notes: notes.value });
      tags.value = (saved.yours.tags || []).join(', ');
      notes.value = saved.yours.notes || '';
      showNews(`Saved your notes of ${name}.`);
    });
  });
  return h('section', { 'aria-labelledby': 'yours' }, h('h3', { id: 'yours' }, 'Yours'), star, form);
}
