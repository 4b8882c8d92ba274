'use client';

import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useEffect, useState, type ReactNode } from 'react';
import { LiveEventsProvider, useLiveStatus } from '../lib/live';
import { useSession } from '../lib/session';
import { Button, Spinner } from './ui';

/** Every page of the dashboard, in the order the navigation shows them. */
export const NAVIGATION: { href: string; label: string }[] = [
  { href: '/', label: 'Overview' },
  { href: '/vms', label: 'Virtual machines' },
  { href: '/hosts', label: 'Hosts' },
  { href: '/operations', label: 'Operations' },
  { href: '/images', label: 'Images' },
  { href: '/admin', label: 'Admin' },
  { href: '/audit', label: 'Audit log' },
  { href: '/settings', label: 'Settings' },
];

/** Pages shown without the signed-in chrome. */
const PUBLIC_PAGES = ['/login'];

function isCurrent(pathname: string, href: string): boolean {
  return href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`);
}

function useTheme(): [boolean, () => void] {
  const [dark, setDark] = useState(false);
  useEffect(() => setDark(document.documentElement.classList.contains('dark')), []);
  const toggle = () => {
    const next = !dark;
    document.documentElement.classList.toggle('dark', next);
    try {
      window.localStorage.setItem('novacron.theme', next ? 'dark' : 'light');
    } catch {
      // No storage: the choice lasts for this page only.
    }
    setDark(next);
  };
  return [dark, toggle];
}

function LiveIndicator() {
  const { status, problem } = useLiveStatus();
  const tone =
    status === 'live' ? 'bg-ok' : status === 'offline' ? 'bg-bad' : 'bg-warn animate-pulse';
  const text = {
    live: 'Live',
    connecting: 'Connecting',
    reconnecting: 'Reconnecting',
    offline: 'Offline',
  }[status];
  return (
    <span
      className="inline-flex items-center gap-1.5 text-xs text-muted"
      title={problem ?? 'Changes appear as they happen'}
      data-live-status={status}
    >
      <span aria-hidden className={`size-2 rounded-full ${tone}`} />
      <span className="sr-only sm:not-sr-only">{text}</span>
    </span>
  );
}

function Navigation({ pathname, onNavigate }: { pathname: string; onNavigate: () => void }) {
  return (
    <nav aria-label="Main" className="flex flex-col gap-0.5 p-2">
      {NAVIGATION.map((item) => {
        const current = isCurrent(pathname, item.href);
        return (
          <Link
            key={item.href}
            href={item.href}
            onClick={onNavigate}
            aria-current={current ? 'page' : undefined}
            className={`rounded-md px-3 py-2 text-sm ${current ? 'bg-accent/15 font-medium text-accent' : 'text-fg hover:bg-line/50'}`}
          >
            {item.label}
          </Link>
        );
      })}
    </nav>
  );
}

function SignedInShell({ children, pathname }: { children: ReactNode; pathname: string }) {
  const { session, logout } = useSession();
  const [dark, toggleTheme] = useTheme();
  const [menuOpen, setMenuOpen] = useState(false);
  const router = useRouter();
  return (
    <LiveEventsProvider>
      <div className="flex min-h-screen">
        <aside
          className={`${menuOpen ? 'fixed inset-0 z-40 flex' : 'hidden'} w-full flex-col border-r border-line bg-card md:static md:flex md:w-56 md:shrink-0`}
        >
          <div className="flex h-14 items-center justify-between border-b border-line px-4">
            <Link
              href="/"
              className="font-semibold tracking-tight"
              onClick={() => setMenuOpen(false)}
            >
              NovaCron
            </Link>
            <Button variant="ghost" className="md:hidden" onClick={() => setMenuOpen(false)}>
              Close
            </Button>
          </div>
          <Navigation pathname={pathname} onNavigate={() => setMenuOpen(false)} />
        </aside>
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex h-14 items-center gap-2 border-b border-line bg-card px-2 sm:gap-3 sm:px-4">
            <Button
              variant="ghost"
              className="md:hidden"
              aria-label="Open the menu"
              aria-expanded={menuOpen}
              onClick={() => setMenuOpen(true)}
            >
              Menu
            </Button>
            <span className="font-semibold md:hidden">NovaCron</span>
            <div className="ml-auto flex items-center gap-1.5 sm:gap-3">
              <LiveIndicator />
              <Button
                variant="ghost"
                onClick={toggleTheme}
                aria-label={dark ? 'Use the light theme' : 'Use the dark theme'}
              >
                {dark ? 'Light' : 'Dark'}
              </Button>
              <span className="hidden text-sm text-muted sm:inline" data-testid="username">
                {session?.username}
              </span>
              <Button
                onClick={() => {
                  void logout().then(() => router.replace('/login'));
                }}
              >
                Log out
              </Button>
            </div>
          </header>
          <main className="mx-auto w-full max-w-7xl flex-1 p-4 md:p-6">{children}</main>
        </div>
      </div>
    </LiveEventsProvider>
  );
}

/** The frame of every page: navigation, theme, the live indicator; the login page stands alone. */
export function Shell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const router = useRouter();
  const { ready, session } = useSession();
  const isPublic = PUBLIC_PAGES.includes(pathname);

  useEffect(() => {
    if (ready && session === undefined && !isPublic) {
      const next = `${window.location.pathname}${window.location.search}`;
      router.replace(next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`);
    }
  }, [ready, session, isPublic, router]);

  if (isPublic) return <>{children}</>;
  if (!ready || session === undefined) {
    return (
      <div className="flex min-h-screen items-center justify-center">
        <Spinner label="Loading" />
      </div>
    );
  }
  return <SignedInShell pathname={pathname}>{children}</SignedInShell>;
}
