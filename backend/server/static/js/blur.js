// Previews the hub rates above the level a person chose are blurred until they ask to see one. The rating is
// Civitai's nsfwLevel for the model's version: bits 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX, one per level its images
// reach. A preview nobody rated (a side-car picture of a model the hub does not know) is shown as it is.
const KEY = 'modelvault.blurAbove';
export const LEVELS = [[1, 'PG'], [2, 'PG-13'], [4, 'R'], [8, 'X'], [16, 'XXX: never blur']];
const DEFAULT_LEVEL = 2;

export function blurAbove() {
  const chosen = Number(localStorage.getItem(KEY));
  return LEVELS.some(([level]) => level === chosen) ? chosen : DEFAULT_LEVEL;
}

export function tooExplicit(rating, above = blurAbove()) {
  return Number.isInteger(rating) && (rating & ~(2 * above - 1)) !== 0;
}

// Marks an element holding a preview with its rating, blurred or not as the setting says.
export function rated(element, rating) {
  if (Number.isInteger(rating)) element.dataset.nsfw = String(rating);
  element.classList.toggle('blurred', tooExplicit(rating));
  return element;
}

function applyEverywhere() {
  document.querySelectorAll('[data-nsfw]').forEach((element) => {
    element.classList.toggle('blurred', tooExplicit(Number(element.dataset.nsfw)));
  });
}

// The setting, as a control of the library's filters; it applies to every open view at once.
export function blurSetting(select) {
  select.replaceChildren(...LEVELS.map(([level, words]) => {
    const option = document.createElement('option');
    option.value = String(level);
    option.textContent = words;
    return option;
  }));
  select.value = String(blurAbove());
  select.addEventListener('change', () => {
    localStorage.setItem(KEY, select.value);
    applyEverywhere();
  });
}
