// "Last asked wins" for a view filled from an answer: a list reloaded, a run chosen, a filter
// changed. Answers need not arrive in the order they were asked (a slow query, a busy server), so
// each call takes a ticket and shows its answer only while no later call, and nothing newer that
// set the view meanwhile (drop()), has taken another: an older, slower answer never overwrites a
// newer one.
//
//   private lists = new Latest();
//   async load() { const current = this.lists.ask(); const l = await api.call(...); if (current()) this.list = l; }
export class Latest {
  private asked = 0;

  /** A new call: the answers of the calls before it are stale from now on. Answers whether this
   *  call is still the latest (check it once the answer is in, before showing it). */
  ask(): () => boolean {
    const ticket = ++this.asked;
    return () => ticket === this.asked;
  }

  /** Something newer set the view (another call's answer, an event, the view closed): every answer
   *  still on its way is stale. */
  drop(): void {
    this.asked++;
  }
}
