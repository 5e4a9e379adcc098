"""web3.py's subscribe("newHeads") over a WebSocket against `forja node`
(FORJA_RPC_URL, the HTTP URL; the WebSocket is on the same port).

QBFT headers carry the validators and seals in extraData (more than 32
bytes), so web3.py needs its POA middleware for forja as it does for Besu.
"""

import asyncio
import os

from eth_account import Account
from web3 import AsyncWeb3, WebSocketProvider
from web3.middleware import ExtraDataToPOAMiddleware

MNEMONIC = "test test test test test test test test test test test junk"


async def main() -> None:
    ws_url = os.environ["FORJA_RPC_URL"].replace("http", "ws", 1)
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(MNEMONIC)
    async with AsyncWeb3(WebSocketProvider(ws_url)) as w3:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        subscription = await w3.eth.subscribe("newHeads")
        assert isinstance(subscription, str) and subscription.startswith("0x"), subscription
        chain_id = await w3.eth.chain_id
        nonce = await w3.eth.get_transaction_count(account.address)
        # The dev network makes a block per transaction.
        for offset in range(2):
            signed = account.sign_transaction(
                {
                    "to": "0x0000000000000000000000000000000000000001",
                    "value": 1,
                    "gas": 21000,
                    "gasPrice": 0,
                    "nonce": nonce + offset,
                    "chainId": chain_id,
                }
            )
            await w3.eth.send_raw_transaction(signed.raw_transaction)
        numbers = []
        async for message in w3.socket.process_subscriptions():
            assert message["subscription"] == subscription, message
            numbers.append(message["result"]["number"])
            if len(numbers) == 2:
                break
        # The middleware reads full blocks too (extraData over 32 bytes).
        block = await w3.eth.get_block(numbers[-1])
        assert block["number"] == numbers[-1]
        print(f"web3.py subscribe(newHeads): received blocks {numbers}: OK")


asyncio.run(asyncio.wait_for(main(), timeout=30))
