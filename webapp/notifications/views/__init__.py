"""notifications/views"""
