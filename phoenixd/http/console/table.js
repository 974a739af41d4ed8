// A table that sorts (click a header; again to reverse) and filters (the text box above it).
// Cells are set with textContent only: whatever a member or a request said stays text.

export class Table {
  // columns: [{ label, value: (row) => string | number, cell?: (row, td) => void }]
  constructor(host, columns, { filter = true, limit = 1000, empty = "nothing yet" } = {}) {
    this.columns = columns;
    this.rows = [];
    this.sortBy = -1;
    this.descending = false;
    this.limit = limit;
    this.empty = empty;
    this.host = host;
    this.input = null;
    if (filter) {
      this.input = document.createElement("input");
      this.input.type = "search";
      this.input.placeholder = "filter";
      this.input.className = "filter";
      this.input.addEventListener("input", () => this.render());
      host.append(this.input);
    }
    this.table = document.createElement("table");
    const head = this.table.createTHead().insertRow();
    columns.forEach((column, index) => {
      const th = document.createElement("th");
      th.textContent = column.label;
      th.addEventListener("click", () => {
        this.descending = this.sortBy === index ? !this.descending : false;
        this.sortBy = index;
        this.render();
      });
      head.append(th);
    });
    this.body = this.table.createTBody();
    this.note = document.createElement("p");
    this.note.className = "muted";
    host.append(this.table, this.note);
  }

  set(rows) {
    this.rows = rows;
    this.render();
  }

  render() {
    const needle = this.input ? this.input.value.trim().toLowerCase() : "";
    let rows = this.rows;
    if (needle) {
      rows = rows.filter((row) =>
        this.columns.some((c) => String(c.value(row)).toLowerCase().includes(needle)));
    }
    if (this.sortBy >= 0) {
      const value = this.columns[this.sortBy].value;
      const sign = this.descending ? -1 : 1;
      rows = [...rows].sort((a, b) => sign * compare(value(a), value(b)));
    }
    const shown = rows.slice(0, this.limit);
    this.body.replaceChildren(...shown.map((row) => {
      const tr = document.createElement("tr");
      for (const column of this.columns) {
        const td = document.createElement("td");
        if (column.cell) column.cell(row, td);
        else td.textContent = String(column.value(row));
        tr.append(td);
      }
      return tr;
    }));
    this.table.querySelectorAll("th").forEach((th, index) => {
      th.dataset.sort = index === this.sortBy ? (this.descending ? "desc" : "asc") : "";
    });
    this.note.textContent = !rows.length ? this.empty
      : rows.length > shown.length ? `showing ${shown.length} of ${rows.length}` : "";
  }
}

function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
