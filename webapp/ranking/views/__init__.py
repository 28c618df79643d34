"""ranking/views"""
