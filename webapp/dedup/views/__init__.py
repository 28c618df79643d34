"""dedup/views"""
