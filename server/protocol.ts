/**
 * The signaling protocol as the server sees it. The frames, their parser and their encoder live
 * once in the SDK (src/signaling/protocol.ts), which WebSocketTransport uses too; the server
 * reaches it through the package's own `peerkit/protocol` export, the same import that works once
 * the server is a package of its own depending on `peerkit`.
 */
export {
  PROTOCOL_VERSION,
  ProtocolError,
  encodeFrame,
  errorFrame,
  parseClientFrame,
} from 'peerkit/protocol';
export type { ClientFrame, ErrorCode, IceServer, ServerFrame, SfuInfo } from 'peerkit/protocol';
