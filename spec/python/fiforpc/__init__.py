"""fiforpc: a reference implementation of FIFO-RPC/1 (spec/FRAMING.md), standard library only.

Modules, in the order a reader learns the protocol:

* :mod:`fiforpc.frame` — the frame layout, CRC-32 and encoder (§4);
* :mod:`fiforpc.decoder` — finding frames in a byte stream, checks and resynchronisation (§5);
* :mod:`fiforpc.fragment` — fragmentation and reassembly (§7);
* :mod:`fiforpc.messages` — the payload of every message type (§6) and the codes of §11;
* :mod:`fiforpc.receiver` — all of the above as one event stream (§13.1);
* :mod:`fiforpc.bincode1` — the body encoding (§10.1);
* :mod:`fiforpc.fifo` — the FIFO transport: files, opens, waits, EOF and EPIPE (§9);
* :mod:`fiforpc.client`, :mod:`fiforpc.server` — the session (§8).
"""
