// The model view's control for a person's own preview: choose a picture (it wins over the automatic ones), or
// remove it (a side-car picture beside the file shows again, else the hub's own preview).
import { deleteJson, putImage } from './api.js';
import { h } from './dom.js';

const TYPES = 'image/png,image/jpeg,image/webp,image/gif';

export function ownPreview(sha256, name, own, onChanged) {
  const status = h('p', { class: 'status', role: 'status' });
  const path = `/api/models/${encodeURIComponent(sha256)}/preview`;
  const act = async (work, done, mine) => {
    status.textContent = 'Saving…';
    try {
      await work();
      await onChanged();
      status.textContent = done;
      remove.hidden = !mine;
    } catch (err) {
      status.textContent = err.code === 'no_preview_set' ? 'There is no picture of yours to remove.' : err.message;
    }
  };
  const input = h('input', { type: 'file', id: 'own-preview', accept: TYPES });
  input.addEventListener('change', () => {
    const file = input.files[0];
    if (file) act(() => putImage(path, file), 'Your picture is now the preview.', true);
  });
  // Only a picture the person set can be removed: the automatic ones follow the files beside the model.
  const remove = h('button', { type: 'button', hidden: !own }, 'Remove my picture');
  remove.addEventListener('click', () => act(() => deleteJson(path), 'Your picture was removed.', false));
  const section = h('section', { class: 'own-preview', 'aria-labelledby': 'own-preview-title' },
    h('h3', { id: 'own-preview-title' }, 'Preview'),
    h('label', { for: 'own-preview' }, `Choose a picture for ${name}`), input, remove, status);
  // The hub's pictures set the person's preview too: then theirs may be removed here.
  return { section, mine: () => { remove.hidden = false; } };
}
