// The token form: shown when the API answers 401; the token lives for this browser session only.
import { onLoginNeeded, saveToken } from './api.js';

export function setupLogin(dialog) {
  const form = dialog.querySelector('form');
  const input = form.querySelector('input');
  const problem = form.querySelector('.problem');
  // Nothing works without the token: Escape does not dismiss the form.
  dialog.addEventListener('cancel', (event) => event.preventDefault());
  onLoginNeeded((rejected) => new Promise((resolve) => {
    problem.hidden = !rejected;
    input.value = '';
    form.onsubmit = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      saveToken(token);
      dialog.close();
      resolve(token);
    };
    if (!dialog.open) dialog.showModal();
    input.focus();
  }));
}
