'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import {
  flexRender,
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type OnChangeFn,
  type RowSelectionState,
  type SortingState,
} from '@tanstack/react-table';
import { useState, type ReactNode } from 'react';
import { formatAgo } from '../lib/format';
import type { ListPage } from '../lib/live-cache';
import { Button, ErrorBox, Select, Spinner } from './ui';

export const PAGE_SIZES = [25, 50, 100, 500] as const;

/** A sortable column of a row's `createdAt`, shown as an age with the exact time on hover. */
export function createdAtColumn<T extends { createdAt: string }>(
  id: string,
  header: string,
): ColumnDef<T, unknown> {
  return {
    id,
    header,
    accessorFn: (row) => row.createdAt,
    cell: ({ row }) => (
      <span title={row.original.createdAt}>{formatAgo(row.original.createdAt)}</span>
    ),
  };
}

/**
 * One page of a cursor-paged API list at a time (`nextCursor`), with the cursors of the pages
 * before kept for going back. The query key starts with `prefix`, so that events update it.
 */
export function usePagedList<T>(
  prefix: string,
  filters: Record<string, unknown>,
  fetchPage: (query: { limit: number; cursor?: string }) => Promise<ListPage<T>>,
  initialLimit: number = PAGE_SIZES[1],
) {
  const [limit, setLimit] = useState(initialLimit);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const query = useQuery({
    queryKey: [prefix, { ...filters, limit, cursor: cursor ?? null }],
    queryFn: () => fetchPage({ limit, ...(cursor === undefined ? {} : { cursor }) }),
    placeholderData: keepPreviousData,
  });
  const nextCursor = query.data?.nextCursor ?? null;
  return {
    query,
    items: query.data?.items,
    pageIndex: cursors.length,
    limit,
    setLimit: (value: number) => {
      setLimit(value);
      setCursors([]);
    },
    reset: () => setCursors([]),
    hasNext: nextCursor !== null,
    hasPrevious: cursors.length > 0,
    next: () => {
      if (nextCursor !== null) setCursors([...cursors, nextCursor]);
    },
    previous: () => setCursors(cursors.slice(0, -1)),
  };
}

export type PagedList<T> = ReturnType<typeof usePagedList<T>>;

export function Pager<T>({ list, noun }: { list: PagedList<T>; noun: string }) {
  const count = list.items?.length ?? 0;
  const first = list.pageIndex * list.limit;
  return (
    <div className="mt-3 flex flex-wrap items-center justify-between gap-2 text-sm text-muted">
      <span aria-live="polite">
        {count === 0 ? `No ${noun}` : `${noun} ${first + 1}–${first + count}`}
        {list.query.isFetching ? ' · updating' : ''}
      </span>
      <div className="flex items-center gap-2">
        <label className="flex items-center gap-1.5">
          <span>Per page</span>
          <Select
            className="w-20"
            value={list.limit}
            onChange={(e) => list.setLimit(Number(e.target.value))}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </Select>
        </label>
        <Button onClick={list.previous} disabled={!list.hasPrevious} aria-label="Previous page">
          Previous
        </Button>
        <Button onClick={list.next} disabled={!list.hasNext} aria-label="Next page">
          Next
        </Button>
      </div>
    </div>
  );
}

/**
 * A table of the rows given (one page of an API list): sortable by column headers, filtered by
 * `search` over the shown rows, optionally with row selection for bulk actions.
 */
export function DataTable<T>({
  rows,
  columns,
  getRowId,
  search = '',
  selection,
  onSelectionChange,
  loading,
  error,
  empty,
  label,
}: {
  rows: T[] | undefined;
  columns: ColumnDef<T, unknown>[];
  getRowId: (row: T) => string;
  search?: string;
  selection?: RowSelectionState;
  onSelectionChange?: OnChangeFn<RowSelectionState>;
  loading: boolean;
  error: unknown;
  empty: ReactNode;
  label: string;
}) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const selectable = selection !== undefined;
  const table = useReactTable({
    data: rows ?? [],
    columns,
    getRowId,
    state: { sorting, globalFilter: search, ...(selectable ? { rowSelection: selection } : {}) },
    enableRowSelection: selectable,
    ...(onSelectionChange === undefined ? {} : { onRowSelectionChange: onSelectionChange }),
    onSortingChange: setSorting,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
    globalFilterFn: 'includesString',
  });

  if (error !== null && error !== undefined && rows === undefined)
    return <ErrorBox error={error} />;
  if (rows === undefined && loading) return <Spinner label="Loading" />;
  if ((rows ?? []).length === 0) return <>{empty}</>;
  const shown = table.getRowModel().rows;
  return (
    <div className="overflow-x-auto rounded-lg border border-line bg-card">
      <table className="w-full min-w-[40rem] text-left text-sm" aria-label={label}>
        <thead className="border-b border-line text-xs text-muted uppercase">
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {selectable ? (
                <th className="w-8 px-3 py-2">
                  <input
                    type="checkbox"
                    aria-label="Select every row shown"
                    checked={table.getIsAllRowsSelected()}
                    onChange={table.getToggleAllRowsSelectedHandler()}
                  />
                </th>
              ) : null}
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                return (
                  <th
                    key={header.id}
                    className="px-3 py-2 font-medium"
                    aria-sort={
                      sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined
                    }
                  >
                    {canSort ? (
                      <button
                        type="button"
                        className="inline-flex items-center gap-1 uppercase hover:text-fg"
                        onClick={header.column.getToggleSortingHandler()}
                      >
                        {flexRender(header.column.columnDef.header, header.getContext())}
                        <span aria-hidden>
                          {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''}
                        </span>
                      </button>
                    ) : (
                      flexRender(header.column.columnDef.header, header.getContext())
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {shown.length === 0 ? (
            <tr>
              <td
                colSpan={columns.length + (selectable ? 1 : 0)}
                className="px-3 py-6 text-center text-muted"
              >
                Nothing on this page matches “{search}”.
              </td>
            </tr>
          ) : (
            shown.map((row) => (
              <tr key={row.id} className="border-b border-line last:border-0 hover:bg-bg/60">
                {selectable ? (
                  <td className="px-3 py-2">
                    <input
                      type="checkbox"
                      aria-label={`Select ${row.id}`}
                      checked={row.getIsSelected()}
                      onChange={row.getToggleSelectedHandler()}
                    />
                  </td>
                ) : null}
                {row.getVisibleCells().map((cell) => (
                  <td key={cell.id} className="px-3 py-2 align-middle">
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
