/**
 * The success banner shown once on the page a form redirects to ("Jane Smith has been
 * added…"): set before the redirect, taken (and so cleared) by the page that shows it.
 */
interface BannerSession { get<T>(key: string): T | undefined, set(key: string, value: unknown): void, unset(key: string): void }

export function setBanner(session: BannerSession, text: string): void {
  session.set('banner', text)
}

export function takeBanner(session: BannerSession): string | undefined {
  const banner = session.get<string>('banner')
  if (banner) session.unset('banner')
  return banner
}
