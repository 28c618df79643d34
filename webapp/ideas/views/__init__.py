"""ideas/views"""
