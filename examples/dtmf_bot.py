"""An answering bot: it picks up, plays a prompt, collects DTMF digits
until '#', says what it got and hangs up.  Run it, then call it:

    python examples/dtmf_bot.py 127.0.0.1:5070
    sansip call sip:bot@127.0.0.1:5070 --dtmf 1234#
"""

import asyncio
import sys

import numpy as np

from sansip.phone.aio import AsyncPhone

PROMPT = (8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.int16)


async def main(listen: str) -> None:
    host, port = listen.rsplit(":", 1)
    async with AsyncPhone(localip=host, signalingport=port, autoaccept=1) as phone:
        print("listening", flush=True)
        call = await phone.incoming()
        await call.connected(timeout=10)
        call.audio_out.put_nowait(PROMPT)  # one second of 440 Hz
        while not call.dtmf_received.endswith("#"):
            await asyncio.sleep(0.05)
        print("digits", call.dtmf_received.rstrip("#"), flush=True)
        call.hangup()
        await call.ended(timeout=10)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:5070"))
