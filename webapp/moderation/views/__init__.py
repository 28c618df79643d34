"""moderation/views"""
