"""The conversations, written once for every channel: `router.respond` takes what a person sent and returns the
replies (`chat.Reply`); the channels in `bot/` only carry them."""
