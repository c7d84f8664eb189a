// The token form: shown when the API answers 401; the gateway's cookie lasts for this browser session only.
import { onLoginNeeded, signIn } from './api.js';

export function setupLogin(dialog) {
  const form = dialog.querySelector('form');
  const input = form.querySelector('input');
  const problem = form.querySelector('.problem');
  // Nothing works without the token: Escape does not dismiss the form.
  dialog.addEventListener('cancel', (event) => event.preventDefault());
  onLoginNeeded(() => new Promise((resolve) => {
    problem.hidden = true;
    input.value = '';
    form.onsubmit = async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      const accepted = await signIn(token).catch(() => false);
      if (!accepted) {
        problem.hidden = false;
        input.select();
        return;
      }
      dialog.close();
      resolve();
    };
    if (!dialog.open) dialog.showModal();
    input.focus();
  }));
}
