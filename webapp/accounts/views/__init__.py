"""accounts/views"""
