// The connection table, virtualised: one scroll area whose height stands for every row, and a
// small pool of row elements that is refilled with the rows in view on each scroll.

import type { Connections } from "./model.js";
import { formatBytes, formatCount, formatMs } from "./units.js";

const ROW_HEIGHT = 24;
/** Rows drawn above and below the visible ones, so that fast scrolling shows no gaps. */
const OVERSCAN = 6;

export interface ColumnSpec {
  name: string;
  label: string;
  width: number;
  numeric?: boolean;
  /** The value sorted on: a number (NaN for null) or a string. */
  key(c: Connections, row: number): number | string;
  text(c: Connections, row: number): string;
}

const num = (name: string, label: string, width: number, get: (c: Connections, row: number) => number, show: (v: number) => string): ColumnSpec =>
  ({ name, label, width, numeric: true, key: get, text: (c, row) => show(get(c, row)) });
const str = (name: string, label: string, width: number, get: (c: Connections, row: number) => string): ColumnSpec =>
  ({ name, label, width, key: get, text: get });

export const TABLE_COLUMNS: readonly ColumnSpec[] = [
  num("conn_id", "conn_id", 70, (c, r) => c.connId[r]!, formatCount),
  num("ts", "start (s)", 96, (c, r) => c.tsMs[r]!, (v) => (v / 1000).toFixed(6)),
  str("orig_h", "orig_h", 150, (c, r) => c.origH[r]!),
  num("orig_p", "orig_p", 62, (c, r) => c.origP[r]!, String),
  str("resp_h", "resp_h", 150, (c, r) => c.respH[r]!),
  num("resp_p", "resp_p", 62, (c, r) => c.respP[r]!, String),
  str("conn_state", "conn_state", 100, (c, r) => c.connState[r]!),
  str("history", "history", 110, (c, r) => c.history[r]!),
  num("duration", "duration", 84, (c, r) => c.durationS[r]! * 1000, formatMs),
  num("rtt_syn_synack", "SYN→SYN-ACK", 98, (c, r) => c.rttSynSynackMs[r]!, formatMs),
  num("rtt_synack_ack", "SYN-ACK→ACK", 98, (c, r) => c.rttSynackAckMs[r]!, formatMs),
  num("orig_bytes", "orig_bytes", 100, (c, r) => c.origBytes[r]!, formatBytes),
  num("resp_bytes", "resp_bytes", 100, (c, r) => c.respBytes[r]!, formatBytes),
  num("pkts", "packets", 70, (c, r) => c.origPkts[r]! + c.respPkts[r]!, formatCount),
  num("retransmits", "retrans.", 66, (c, r) => c.retransmits[r]!, formatCount),
  num("zero_windows", "zero win.", 70, (c, r) => c.zeroWindows[r]!, formatCount),
  str("orig_state", "orig_state", 104, (c, r) => c.origState[r]!),
  str("resp_state", "resp_state", 104, (c, r) => c.respState[r]!),
  str("end_reason", "end_reason", 110, (c, r) => c.endReason[r]!),
];

export class ConnectionTable {
  private readonly scroller: HTMLElement;
  private readonly head: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  private conns: Connections | null = null;
  private rows: Uint32Array = new Uint32Array(0);
  private selected = -1;
  private frame = 0;

  constructor(
    host: HTMLElement,
    private readonly onSort: (column: ColumnSpec) => void,
    private readonly onSelect: (row: number) => void,
  ) {
    const template = TABLE_COLUMNS.map((c) => `${c.width}px`).join(" ");
    host.style.setProperty("--columns", template);
    host.style.setProperty("--row-width", `${TABLE_COLUMNS.reduce((w, c) => w + c.width, 0)}px`);
    this.scroller = el("div", "table-scroll");
    this.head = el("div", "table-row table-head");
    for (const column of TABLE_COLUMNS) {
      const cell = el("button", column.numeric ? "cell numeric" : "cell");
      cell.textContent = column.label;
      cell.title = `${column.label}${column.label === column.name ? "" : ` (${column.name})`}: click to sort`;
      cell.addEventListener("click", () => this.onSort(column));
      this.head.append(cell);
    }
    this.spacer = el("div", "table-spacer");
    this.scroller.append(this.head, this.spacer);
    host.append(this.scroller);
    this.scroller.addEventListener("scroll", () => this.schedule());
    this.spacer.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>(".table-row")?.dataset.row;
      if (row !== undefined) this.onSelect(Number(row));
    });
  }

  show(conns: Connections, rows: Uint32Array): void {
    this.conns = conns;
    this.rows = rows;
    this.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.schedule();
  }

  /** Marks the sorted column in the header. */
  sortedBy(column: ColumnSpec | null, descending: boolean): void {
    TABLE_COLUMNS.forEach((c, i) => {
      const cell = this.head.children[i] as HTMLElement;
      cell.dataset.sort = c === column ? (descending ? "desc" : "asc") : "";
    });
  }

  select(row: number): void {
    this.selected = row;
    this.schedule();
  }

  /** Scrolls so that `row` (a connection row, not a position) is in view, if it is shown. */
  reveal(row: number): void {
    const at = this.rows.indexOf(row);
    if (at < 0) return;
    const top = at * ROW_HEIGHT;
    const view = this.scroller.clientHeight - ROW_HEIGHT;
    if (top < this.scroller.scrollTop || top > this.scroller.scrollTop + view - ROW_HEIGHT) this.scroller.scrollTop = Math.max(0, top - view / 2);
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  private render(): void {
    const conns = this.conns;
    if (!conns) return;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((this.scroller.scrollTop + this.scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    while (this.pool.length < last - first) this.pool.push(this.spacer.appendChild(this.makeRow()));
    this.pool.forEach((element, i) => {
      const at = first + i;
      if (at >= last) { element.hidden = true; return; }
      const row = this.rows[at]!;
      element.hidden = false;
      element.style.transform = `translateY(${at * ROW_HEIGHT}px)`;
      element.dataset.row = String(row);
      element.classList.toggle("selected", row === this.selected);
      element.classList.toggle("odd", at % 2 === 1);
      TABLE_COLUMNS.forEach((column, c) => { (element.children[c] as HTMLElement).textContent = column.text(conns, row); });
    });
  }

  private makeRow(): HTMLElement {
    const row = el("div", "table-row");
    for (const column of TABLE_COLUMNS) row.append(el("span", column.numeric ? "cell numeric" : "cell"));
    return row;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  return element;
}
