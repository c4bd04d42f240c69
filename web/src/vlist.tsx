// A keyboard-driven virtual list: only the rows in view (plus a margin) are in the DOM, so 20,000
// services scroll as smoothly as 20. Fixed row height keeps the arithmetic exact. It is a
// listbox: arrows, Page Up/Down, Home/End move the active row, Enter/Space choose it.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

interface Props<T> {
  items: T[];
  rowHeight: number;
  label: string;
  idPrefix: string;
  selected: number;
  onSelect: (index: number) => void;
  render: (item: T, index: number) => ComponentChildren;
  itemLabel: (item: T) => string;
}

const OVERSCAN = 8;

export function VirtualList<T>({ items, rowHeight, label, idPrefix, selected, onSelect, render, itemLabel }: Props<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const [active, setActive] = useState(Math.max(0, selected));

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (active >= items.length) setActive(Math.max(0, items.length - 1));
  }, [items.length]);
  useEffect(() => {
    if (selected >= 0) setActive(selected);
  }, [selected]);

  const scrollInto = (i: number): void => {
    const el = ref.current;
    if (!el) return;
    const top = i * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
  };
  const move = (i: number): void => {
    const n = Math.max(0, Math.min(items.length - 1, i));
    setActive(n);
    scrollInto(n);
  };
  const onKey = (e: KeyboardEvent): void => {
    const page = Math.max(1, Math.floor(height / rowHeight) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(active + 1),
      ArrowUp: () => move(active - 1),
      PageDown: () => move(active + page),
      PageUp: () => move(active - page),
      Home: () => move(0),
      End: () => move(items.length - 1),
      Enter: () => items.length > 0 && onSelect(active),
      ' ': () => items.length > 0 && onSelect(active),
    };
    const k = keys[e.key];
    if (k) {
      e.preventDefault();
      k();
    }
  };

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i++) {
    const item = items[i];
    rows.push(
      <div
        id={`${idPrefix}-${i}`}
        key={i}
        role="option"
        aria-selected={i === selected}
        aria-posinset={i + 1}
        aria-setsize={items.length}
        aria-label={itemLabel(item)}
        class={`vrow${i === active ? ' active' : ''}${i === selected ? ' selected' : ''}`}
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}
        onClick={() => (setActive(i), onSelect(i))}
      >
        {render(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      class="vlist"
      role="listbox"
      tabIndex={0}
      aria-label={label}
      aria-activedescendant={items.length > 0 ? `${idPrefix}-${active}` : undefined}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKey}
    >
      <div class="vspace" style={{ height: `${items.length * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
