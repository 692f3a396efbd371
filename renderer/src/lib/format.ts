// Numbers in words, one way everywhere: "1 photo", "3 photos", "0 classes".

/** `n` and the noun, plural unless n is 1 ("class" -> "classes"). */
export function plural(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : /(s|x|ch|sh)$/.test(noun) ? `${noun}es` : `${noun}s`}`;
}

/** Seconds left in words ('1 min 5 s', '40 s'); '—' while unknown. */
export function etaWords(s: number | null): string {
  if (s === null || !Number.isFinite(s) || s <= 0) return '—'; // nothing left to estimate
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}
