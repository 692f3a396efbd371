// Numbers in words, one way everywhere: "1 photo", "3 photos", "0 classes".

/** `n` and the noun, plural unless n is 1 ("class" -> "classes"). */
export function plural(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : /(s|x|ch|sh)$/.test(noun) ? `${noun}es` : `${noun}s`}`;
}
