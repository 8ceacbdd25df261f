Bv_finalJi
t@qsÚ@^ÖëÀ<«>ÆN@`â>@