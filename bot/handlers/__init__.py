"""One short async function per command or message kind; `bot.app` registers them."""
