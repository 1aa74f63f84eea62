"""AI replies, generated and streamed: the ai_replies queue's consumer (core.ai_replies)."""
