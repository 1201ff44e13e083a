/** A WHERE clause built filter by filter: each term with its bound arguments. */
export class Where {
  private readonly terms: string[] = [];
  /** the arguments, in the order of the terms' `?` */
  readonly args: unknown[] = [];

  /** Adds `term` (one `?`) bound to value, unless value is undefined (the filter was not given). */
  when(term: string, value: unknown): this {
    if (value !== undefined) this.add(term, value);
    return this;
  }

  /** Adds `term` with its arguments (one per `?`). */
  add(term: string, ...args: unknown[]): this {
    this.terms.push(term);
    this.args.push(...args);
    return this;
  }

  /** `WHERE a AND b ...`, or '' without terms. */
  toString(): string {
    return this.terms.length ? `WHERE ${this.terms.join(' AND ')}` : '';
  }
}
