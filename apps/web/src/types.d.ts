// Style sheets are imported for their side effect; the bundler handles them.
declare module '*.css';

// noVNC ships JavaScript without types; this is the part the VNC console uses.
declare module '@novnc/novnc' {
  export default class RFB {
    constructor(
      target: HTMLElement,
      urlOrChannel: string | WebSocket,
      options?: { shared?: boolean; credentials?: Record<string, string> },
    );
  }
}
