"""A three-party conference: call two parties, join both calls into the
phone's local conference (each party hears the other and us, never
itself), talk for three seconds, hang up.  Try it with two answering
phones that record what they hear:

    sansip answer --listen 127.0.0.1:5071 --tone 900 --record bob.wav --count 1 &
    sansip answer --listen 127.0.0.1:5072 --tone 1500 --record carol.wav --count 1 &
    python examples/conference.py sip:bob@127.0.0.1:5071 sip:carol@127.0.0.1:5072

bob.wav then holds our 440 Hz and carol's 1500 Hz; carol.wav ours and bob's.
"""

import asyncio
import sys

from sansip.phone.aio import AsyncPhone
from sansip.phone.audio import AudioPlan


async def main(targets: list[str]) -> None:
    async with AsyncPhone(audio=AudioPlan(tone=440.0)) as phone:
        calls = [await phone.call(target) for target in targets]
        for call in calls:
            await call.connected(timeout=10)
        phone.conference()  # every connected call into one mixer
        print("conference of", ", ".join(call.peername for call in calls), flush=True)
        await asyncio.sleep(3)
    # leaving the block hung up both calls


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
